/**
 * The chart's built-in stylesheet. Classes, not inline colours, carry the meaning (state kind,
 * transition kind, `active`, `visited`) so a page can restyle a chart or highlight the live
 * configuration with its own CSS. Only generic font families: the SVG must render offline.
 */
export const CHART_CSS = `
.jsg-chart { font-family: ui-monospace, Menlo, Consolas, monospace; }
.jsg-state > rect { fill: #ffffff; stroke: #5b6b7b; stroke-width: 1.2; }
.jsg-state.jsg-compound > rect, .jsg-state.jsg-parallel > rect { fill: #f6f8fa; }
.jsg-state.jsg-region > rect { fill: none; stroke-dasharray: 5 4; }
.jsg-state.jsg-root > rect { fill: #fcfcfd; }
.jsg-state.jsg-final > rect.jsg-inner { fill: none; }
.jsg-state.jsg-history > rect { stroke-dasharray: 2 2; }
.jsg-state.jsg-child > rect { stroke: #6f42c1; }
.jsg-state text { fill: #1f2328; }
.jsg-state text.jsg-title { font-weight: 600; }
.jsg-state text.jsg-line { fill: #57606a; }
.jsg-state.jsg-visited > rect { fill: #eef6ee; stroke: #6a9f6a; }
.jsg-state.jsg-active > rect { fill: #fff4d6; stroke: #d4a017; stroke-width: 2.4; }
.jsg-state.jsg-active.jsg-compound > rect, .jsg-state.jsg-active.jsg-parallel > rect, .jsg-state.jsg-active.jsg-region > rect { fill: #fffbeb; }
.jsg-state .jsg-child-badge rect { fill: #f3eefc; stroke: #6f42c1; stroke-width: 1; }
.jsg-state .jsg-child-badge text { fill: #6f42c1; font-weight: 600; }
.jsg-edge path { fill: none; stroke: #7d8590; stroke-width: 1.1; }
.jsg-edge.jsg-always path { stroke-dasharray: 6 3; }
.jsg-edge.jsg-after path { stroke-dasharray: 2 3; }
.jsg-edge.jsg-invoke-error path { stroke: #b35c5c; }
.jsg-edge.jsg-internal path { stroke-dasharray: 1 3; }
.jsg-edge.jsg-from-active path { stroke: #d4a017; stroke-width: 1.8; }
.jsg-edge rect { fill: #ffffff; fill-opacity: 0.85; }
.jsg-edge text { fill: #444c56; }
.jsg-arrow { fill: #7d8590; }
.jsg-initial circle { fill: #1f2328; }
.jsg-initial path { fill: none; stroke: #1f2328; stroke-width: 1.1; }
`;
