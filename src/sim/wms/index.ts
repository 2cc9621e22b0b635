// The fake WMS used by tests, the demo and the benchmarks (docs/sim.md, "WMS fake").
export { type Delivery, type OperationOptions, type OrderRef, type PageFaults, WmsFake, type WmsFakeOptions } from './server.ts';
