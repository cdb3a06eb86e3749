// Every drill `npm run drills` knows, in the order it runs them. Add a drill by appending it here.
import type { Drill } from './drill';
import { devServerKill } from './dev-server-kill';
import { workerKill } from './worker-kill';

export const drills: Drill[] = [workerKill, devServerKill];
