/** The machine visualizer's pure core: chart data, layout, SVG, and kit sagas' compensation plans. */
export type * from './graph-types.js';
export type * from './layout-types.js';
export { machineGraph } from './machine-graph.js';
export { layoutGraph, LAYOUT_FAILED, type LayoutOptionsInput } from './layout.js';
export { renderSvg, type SvgOptions } from './svg.js';
export { compensationPlan, type CompensationPlan, type CompensationPlanOptions, type KitSagaState, type OperatorAction, type PlannedUndo, type UndoStatus } from './compensation-plan.js';
export { kitPosition, SagaPhase, type KitPosition } from './kit-phase.js';
