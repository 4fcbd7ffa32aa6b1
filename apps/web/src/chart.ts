/** A small canvas line chart: tok/s over time for one or more series. */
export interface Series {
  label: string;
  color: string;
  /** [seconds since start, tok/s] */
  points: [number, number][];
}

export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[]): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 44, r: 8, t: 8, b: 20 };
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1e-3, ...all.map((p) => p[0]));
  const maxY = niceCeil(Math.max(1, ...all.map((p) => p[1])));
  const x = (v: number) => pad.l + (v / maxX) * (w - pad.l - pad.r);
  const y = (v: number) => h - pad.b - (v / maxY) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#ccc";
  ctx.fillStyle = "#555";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.l, y(v));
    ctx.lineTo(w - pad.r, y(v));
    ctx.stroke();
    ctx.fillText(v >= 100 ? v.toFixed(0) : v.toFixed(1), 4, y(v) + 4);
  }
  ctx.fillText(`${maxX.toFixed(2)} s`, w - pad.r - 40, h - 4);
  ctx.fillText("tok/s", pad.l + 4, pad.t + 10);
  series.forEach((s, i) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (const [j, [px, py]] of s.points.entries()) {
      if (j) ctx.lineTo(x(px), y(py));
      else ctx.moveTo(x(px), y(py));
    }
    ctx.stroke();
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, w - pad.r - 110, pad.t + 12 + 13 * i);
  });
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
