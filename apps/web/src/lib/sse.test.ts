import { describe, expect, it } from "vitest";

import { SseParser } from "./sse";

describe("SseParser", () => {
  it("splits named events with ids, across chunk boundaries", () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\nevent: step_started\ndata: {"step":')).toEqual([]);
    const events = parser.push(' "fetch_data"}\n\n: keep-alive\n\nid: 2\nevent: end\ndata: {}\n\n');
    expect(events).toEqual([
      { id: "1", event: "step_started", data: '{"step": "fetch_data"}' },
      { id: "2", event: "end", data: "{}" },
    ]);
  });

  it("joins multi-line data and defaults the event name", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\r\ndata: b\r\n\r\n")).toEqual([
      { id: null, event: "message", data: "a\nb" },
    ]);
  });
});
