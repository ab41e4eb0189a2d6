/** The visualizer page's entry point (bundled by src/ui/assets.ts into /assets/app.js). */
import { App } from './app.js';
import { takeToken } from './token.js';

void new App(takeToken()).start();
