export * from "./primitives";
export * from "./problems";
