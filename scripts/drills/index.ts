// Every drill `npm run drills` knows, in the order it runs them. Add a drill by appending it here.
import type { Drill } from './drill';
import { crmWorkflowExecute } from './crm-workflow-execute';
import { devServerKill } from './dev-server-kill';
import { digitalChannels } from './digital-channels';
import { duplicateShuffled } from './duplicate-shuffled';
import { exportKill } from './export';
import { fuzz } from './fuzz';
import { storeOutage } from './store-outage';
import { workerKill } from './worker-kill';

export const drills: Drill[] = [duplicateShuffled, fuzz, workerKill, devServerKill, storeOutage, crmWorkflowExecute, digitalChannels, exportKill];
