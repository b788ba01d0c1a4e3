// The entry point of a browser module worker that runs guests:
//   new GuestClient(workerEndpoint(new Worker(new URL('./guest-worker.js', import.meta.url), { type: 'module' })))
import { serveGuests, selfEndpoint } from './protocol.js';

serveGuests(selfEndpoint());
