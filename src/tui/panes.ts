// Every pane of the terminal UI, in the order the number keys reach them. A new pane is
// one module exporting a Pane, and one line here.

import type { Pane } from './pane.js';
import { servicesPane } from './components/services.js';
import { graphPane } from './components/graph.js';
import { logsPane } from './components/logs.js';
import { tracesPane } from './components/traces.js';
import { timelinePane } from './components/timeline.js';
import { configPane } from './components/config.js';

export const PANES: readonly Pane[] = [
  servicesPane,
  graphPane,
  logsPane,
  tracesPane,
  timelinePane,
  configPane,
];
