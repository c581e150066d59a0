import { describe, expect, it } from "vitest";
import { gunzipSync } from "node:zlib";
import { PLOTLY_MARK, figureHtml, line, missingPlotlyMessage, plotlySource } from "../lib/plot";
import { tableHtml, frame } from "../lib/table";

describe("plot", () => {
  it("sends plotly.js ≥ 3, gzipped, only when asked (once per notebook), in a marked script", () => {
    const src = plotlySource();
    expect(src).toMatch(/plotly\.js v([3-9]|\d\d)\./);
    const html = figureHtml({ data: [line([1], [1])] }, true);
    const b64 = /<script[^>]*data-course-plotly[^>]*>[\s\S]*?atob\("([A-Za-z0-9+/=]+)"\)/.exec(html)?.[1] ?? "";
    expect(gunzipSync(Buffer.from(b64, "base64")).toString("utf8")).toBe(src);
    expect(html.length).toBeLessThan(src.length * 0.5); // what the kernel sends, and the saved notebook holds
    expect(figureHtml({ data: [line([1], [1])] }, false)).not.toContain(PLOTLY_MARK);
  });
  it("says in the figure's place how to get plotly back when the page has lost it", () => {
    expect(missingPlotlyMessage()).toMatch(/import \{ resendPlotly \} from "[^"]*lib\/plot"; resendPlotly\(\);/);
    expect(figureHtml({ data: [] }, false)).toContain("course-plot-pending");
  });
  it("cannot be broken out of its <script> by data", () => {
    const html = figureHtml({ data: [line(["</script><b>x</b>"], [1])] }, false);
    expect(html).not.toContain("</script><b>");
    expect(html.match(/<\/script>/g)?.length).toBe(1);
  });
  it("writes non-finite numbers as null (JSON has no NaN)", () => {
    expect(figureHtml({ data: [line([1, 2], [NaN, Infinity])] }, false)).toContain('"y":[null,null]');
  });
  it("gives every figure its own div id", () => {
    const id = (h: string) => /<div id="([^"]+)"/.exec(h)?.[1];
    expect(id(figureHtml({ data: [] }, false))).not.toBe(id(figureHtml({ data: [] }, false)));
  });
});

describe("table", () => {
  it("renders a danfojs DataFrame with escaped cells and rounded numbers", () => {
    const html = tableHtml(frame([{ name: "<a>", L: 0.123456 }, { name: "b", L: 2 }]), { caption: "c" });
    expect(html).toContain("<th>name</th><th>L</th>");
    expect(html).toContain("<td>&lt;a&gt;</td><td>0.123</td>");
    expect(html).toContain("<caption");
  });
});
