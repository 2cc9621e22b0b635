// The fake WMS used by tests, the demo and the benchmarks (docs/wms.md, "The WMS fake").
export { type Delivery, type OperationOptions, type OrderRef, type PageFaults, WmsFake, type WmsFakeOptions } from './server.ts';
