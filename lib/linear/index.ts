// The linear model y = b + Σ w_j x_j: predictions, hand-written gradients,
// gradient descent (notebook 02) and a reliable fitter for k-day models (notebook 03).
export * from "./model";
export * from "./descent";
export * from "./fit";
export * from "./grid";
export * from "./figures";
