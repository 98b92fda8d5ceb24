// PLACEHOLDER: replaced by the real ip_vs_lblcr.c port.
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const lblcr: Scheduler = {
  name: 'lblcr',
  ...STATELESS_HOOKS,
  schedule() {
    throw new Error('lblcr: not implemented yet');
  },
};
