// uPlot is loaded as a classic script (/ui/vendor/uPlot.iife.min.js) before the app's modules: its
// types declare the UMD global `uPlot` (allowUmdGlobalAccess in tsconfig.json).
/// <reference path="../../../node_modules/uplot/dist/uPlot.d.ts" />
