// What the terminal UI shows and what each key changes in it (k9s and lazydocker habits):
// a pure reducer over the view state, so the keys can be tested without a terminal.

import { SERVICE_SORTS, type ServiceSort, type TraceOrder } from './model.js';
import { PANES } from './panes.js';

/** The panes' names, in the order the number keys reach them. */
export const PANE_NAMES: readonly string[] = PANES.map((p) => p.name);

export interface ViewState {
  pane: string;
  help: boolean;
  paused: boolean;
  typing: boolean;
  draft: string;
  /** Per pane, by its name: its filter text and its selected row. */
  filters: Record<string, string>;
  selected: Record<string, number>;
  sort: ServiceSort;
  logScroll: number;
  failedOnly: boolean;
  /** The graph between versions (workloads) rather than services. */
  versions: boolean;
  order: TraceOrder;
  openTrace: string | undefined;
  spanSelected: number;
}

export const initialView: ViewState = {
  pane: 'Services',
  help: false,
  paused: false,
  typing: false,
  draft: '',
  filters: Object.fromEntries(PANE_NAMES.map((n) => [n, ''])),
  selected: Object.fromEntries(PANE_NAMES.map((n) => [n, 0])),
  sort: 'name',
  logScroll: 0,
  failedOnly: false,
  versions: false,
  order: 'recent',
  openTrace: undefined,
  spanSelected: 0,
};

export type Action =
  | { type: 'pane'; pane: string }
  | { type: 'cycle'; by: 1 | -1 }
  | { type: 'move'; by: number; limit: number }
  | { type: 'edge'; to: 'top' | 'bottom'; limit: number }
  | { type: 'help' }
  | { type: 'pause' }
  | { type: 'type'; start?: boolean; text?: string; backspace?: boolean; submit?: boolean; cancel?: boolean }
  | { type: 'escape' }
  | { type: 'sort' }
  | { type: 'failedOnly' }
  | { type: 'versions' }
  | { type: 'order' }
  | { type: 'openTrace'; traceId: string }
  | { type: 'logsOf'; service: string };

/** What each key does to the view: a pure reducer, so the keys can be tested without a terminal. */
export function reduce(view: ViewState, action: Action): ViewState {
  switch (action.type) {
    case 'pane':
      return { ...view, pane: action.pane, help: false };
    case 'cycle': {
      const i = PANE_NAMES.indexOf(view.pane);
      return { ...view, pane: PANE_NAMES[(i + action.by + PANE_NAMES.length) % PANE_NAMES.length]!, help: false };
    }
    case 'move': {
      if (view.pane === 'Traces' && view.openTrace) {
        return { ...view, spanSelected: clamp(view.spanSelected + action.by, action.limit) };
      }
      if (view.pane === 'Logs') return { ...view, logScroll: Math.max(0, Math.min(action.limit, view.logScroll - action.by)) };
      return { ...view, selected: { ...view.selected, [view.pane]: clamp((view.selected[view.pane] ?? 0) + action.by, action.limit) } };
    }
    case 'edge': {
      if (view.pane === 'Logs') return { ...view, logScroll: action.to === 'top' ? action.limit : 0 };
      if (view.pane === 'Traces' && view.openTrace) return { ...view, spanSelected: action.to === 'top' ? 0 : Math.max(0, action.limit - 1) };
      return { ...view, selected: { ...view.selected, [view.pane]: action.to === 'top' ? 0 : Math.max(0, action.limit - 1) } };
    }
    case 'help':
      return { ...view, help: !view.help };
    case 'pause':
      return { ...view, paused: !view.paused };
    case 'type': {
      if (action.start) return { ...view, typing: true, draft: view.filters[view.pane] ?? '' };
      if (action.cancel) return { ...view, typing: false, draft: '' };
      if (action.submit) return { ...view, typing: false, filters: { ...view.filters, [view.pane]: view.draft }, logScroll: 0, selected: { ...view.selected, [view.pane]: 0 } };
      if (action.backspace) return { ...view, draft: view.draft.slice(0, -1) };
      return { ...view, draft: view.draft + (action.text ?? '') };
    }
    case 'escape':
      if (view.help) return { ...view, help: false };
      if (view.pane === 'Traces' && view.openTrace) return { ...view, openTrace: undefined };
      return { ...view, filters: { ...view.filters, [view.pane]: '' }, logScroll: 0 };
    case 'sort':
      return { ...view, sort: SERVICE_SORTS[(SERVICE_SORTS.indexOf(view.sort) + 1) % SERVICE_SORTS.length]! };
    case 'versions':
      return { ...view, versions: !view.versions, selected: { ...view.selected, Graph: 0 } };
    case 'failedOnly':
      return { ...view, failedOnly: !view.failedOnly, selected: { ...view.selected, Traces: 0 } };
    case 'order':
      return { ...view, order: view.order === 'recent' ? 'slowest' : 'recent', selected: { ...view.selected, Traces: 0 } };
    case 'openTrace':
      return { ...view, openTrace: action.traceId, spanSelected: 0 };
    case 'logsOf':
      return { ...view, pane: 'Logs', filters: { ...view.filters, Logs: `svc:${action.service}` }, logScroll: 0 };
  }
}

function clamp(value: number, limit: number): number {
  return Math.max(0, Math.min(Math.max(0, limit - 1), value));
}
