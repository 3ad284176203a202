/** Entry of the delivery worker's own small bundle (scripts/build.mjs embeds it in dist/mxkit.js). */
import { runTransmitWorker } from './transmit-worker';

runTransmitWorker();
