"use client";

import "chartist/dist/index.css";

import { BarChart, LineChart } from "chartist";
import { useEffect, useRef } from "react";

import type { OrchestratorSchemas } from "@/lib/api/client";

type Chart = OrchestratorSchemas["Chart"];

/** Chartist (SVG, ~10 kB gzipped) draws each chart; null values are gaps, never 0. */
function ChartFigure({ chart }: { chart: Chart }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const data = {
      labels: chart.labels,
      series: chart.series.map((s) => ({
        name: s.name,
        className: s.role === "baseline" ? "phi-baseline" : "phi-value",
        data: s.values.map((v) => (v === null ? null : v)),
      })),
    };
    const step = Math.max(1, Math.ceil(chart.labels.length / 10));
    const axisX = {
      showGrid: false,
      labelInterpolationFnc: (value: unknown, index: number) => (index % step === 0 ? String(value) : null),
    };
    const axisY = { onlyInteger: false, low: 0 };
    const drawn =
      chart.kind === "bar"
        ? new BarChart(box.current, data, { height: "220px", axisX, axisY, seriesBarDistance: 14 })
        : new LineChart(box.current, data, {
            height: "220px",
            axisX,
            axisY,
            low: 0,
            showArea: false,
            lineSmooth: false,
            fullWidth: true,
            chartPadding: { right: 36 },
          });
    return () => {
      drawn.detach();
    };
  }, [chart]);
  return (
    <figure className="rounded-lg border p-3" data-testid="report-chart" data-chart-id={chart.id}>
      <figcaption className="mb-1 flex flex-wrap items-baseline justify-between gap-2">
        <span className="text-sm font-semibold">{chart.title}</span>
        <span className="flex gap-3 text-xs text-muted-foreground">
          {chart.series.map((s) => (
            <span key={s.name} className="inline-flex items-center gap-1">
              <span
                aria-hidden
                className={
                  s.role !== "baseline"
                    ? "inline-block h-2 w-4 bg-sky-600"
                    : chart.kind === "bar"
                      ? "inline-block h-2 w-4 bg-slate-300"
                      : "inline-block h-0.5 w-4 bg-slate-400"
                }
              />
              {s.name}
            </span>
          ))}
          <span>({chart.unit})</span>
        </span>
      </figcaption>
      <div ref={box} className="phi-chart" role="img" aria-label={`${chart.title}, in ${chart.unit}`} />
      {chart.note ? <p className="mt-1 text-xs text-muted-foreground">{chart.note}</p> : null}
      <details className="mt-1 text-xs">
        <summary className="cursor-pointer text-muted-foreground">Figures</summary>
        <div className="overflow-x-auto">
          <table className="mt-1">
            <thead>
              <tr>
                <th className="pr-3 text-left">{chart.x_label}</th>
                {chart.series.map((s) => (
                  <th key={s.name} className="pr-3 text-right">
                    {s.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {chart.labels.map((label, i) => (
                <tr key={label + i}>
                  <td className="pr-3">{label}</td>
                  {chart.series.map((s) => (
                    <td key={s.name} className="pr-3 text-right">
                      {s.values[i] ?? "n/a"}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** The report's charts, from the chart descriptions of the task's result. */
export function ReportCharts({ charts }: { charts: Chart[] }) {
  if (charts.length === 0) return null;
  return (
    <section aria-label="Charts" className="grid gap-3 lg:grid-cols-2" data-testid="report-charts">
      {charts.map((c) => (
        <ChartFigure key={c.id} chart={c} />
      ))}
    </section>
  );
}
