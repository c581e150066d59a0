import { describe, expect, it } from "vitest";
import { figureHtml, line, plotlySource } from "../lib/plot";
import { tableHtml, frame } from "../lib/table";

describe("plot", () => {
  it("inlines plotly.js ≥ 3 only when asked (once per notebook)", () => {
    const src = plotlySource();
    expect(src).toMatch(/plotly\.js v([3-9]|\d\d)\./);
    expect(figureHtml({ data: [line([1], [1])] }, true)).toContain(src.slice(0, 200));
    expect(figureHtml({ data: [line([1], [1])] }, false)).not.toContain(src.slice(0, 200));
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
