// PLACEHOLDER: replaced by the real ip_vs_lblc.c port.
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const lblc: Scheduler = {
  name: 'lblc',
  ...STATELESS_HOOKS,
  schedule() {
    throw new Error('lblc: not implemented yet');
  },
};
