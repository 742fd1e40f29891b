/**
 * The webview's state: the last {@link EditorState} from the host, plus what is purely local to
 * this view (selected block, chart mode), persisted with `vscode.setState` so a tab that was
 * hidden and restored comes back as it was. The host's document is the only model; nothing here
 * is ever sent back except as intents.
 */
import type { EditorState, ValidState } from '../src/core/protocol';

/** Which similarity chart the selected block shows. */
export type SimilarityMode = 'source' | 'matrix';

/** View-local state that survives the webview being hidden. */
export interface LocalState {
  /** Selected block id (charts follow it), or null for the first block. */
  selected: string | null;
  /** Similarity chart mode. */
  mode: SimilarityMode;
  /** Focused timeline cell. */
  focus: { row: number; step: number };
}

/** The subset of the webview API this view uses. */
export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

/** Holds host and local state; notifies listeners on change. */
export class Store {
  /** Latest state from the host; null until the first `state` message. */
  host: EditorState | null = null;
  readonly local: LocalState;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly api: VsCodeApi) {
    const saved = api.getState() as Partial<LocalState> | undefined;
    this.local = {
      selected: typeof saved?.selected === 'string' ? saved.selected : null,
      mode: saved?.mode === 'matrix' ? 'matrix' : 'source',
      focus: { row: saved?.focus?.row ?? 0, step: saved?.focus?.step ?? 0 },
    };
  }

  /** The valid state, or null when the document does not parse or nothing arrived yet. */
  get valid(): ValidState | null {
    return this.host?.kind === 'valid' ? this.host : null;
  }

  /** Index of the selected block in the valid state (0 when none or unknown). */
  get selectedIndex(): number {
    const v = this.valid;
    if (!v) return 0;
    const i = v.blocks.findIndex((b) => b.id === this.local.selected);
    return i < 0 ? 0 : i;
  }

  /** Changes local state, persists it and notifies. */
  update(change: Partial<LocalState>): void {
    Object.assign(this.local, change);
    this.api.setState(this.local);
    this.notify();
  }

  /** Replaces the host state and notifies. */
  setHost(state: EditorState): void {
    this.host = state;
    this.notify();
  }

  /** Registers a listener. */
  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
