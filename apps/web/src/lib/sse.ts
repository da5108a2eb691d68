// Server-sent events read with fetch rather than EventSource: the orchestrator names each event
// (step_started, tool_call_created, …, end) and EventSource only delivers names it was told in
// advance. Reconnects send Last-Event-ID so no event is lost or repeated.

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Feeds text chunks in, gets whole events out (a chunk may end mid-event). */
export class SseParser {
  private buffer = "";

  push(chunk: string): SseEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, "\n");
    const events: SseEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | null = null;
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue; // comment: keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") id = value;
        else if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length || id !== null) events.push({ id, event, data: data.join("\n") });
    }
    return events;
  }
}

/**
 * Follows an event stream until an `end` event arrives or `signal` aborts, reconnecting after
 * a dropped connection from the last event seen.
 */
export async function followEvents(
  url: string,
  onEvent: (event: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let lastId: string | null = null;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const response: Response = await fetch(url, {
        headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) },
        signal,
        cache: "no-store",
      });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const reader: ReadableStreamDefaultReader<string> = response.body
        .pipeThrough(new TextDecoderStream())
        .getReader();
      const parser = new SseParser();
      for (;;) {
        const chunk: ReadableStreamReadResult<string> = await reader.read();
        if (chunk.done) break;
        const value: string = chunk.value;
        for (const event of parser.push(value) as SseEvent[]) {
          if (event.id !== null) lastId = event.id;
          onEvent(event);
          if (event.event === "end") return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (attempt >= 20) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
  }
}
