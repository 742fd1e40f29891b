import type * as vscode from 'vscode';

/**
 * Base class for objects that own disposables (as in microsoft/vscode-hexeditor): register each
 * resource once with `_register` and everything is released, in reverse order, by `dispose()`.
 */
export abstract class Disposable implements vscode.Disposable {
  private readonly _disposables: vscode.Disposable[] = [];
  private _isDisposed = false;

  /** True once `dispose()` ran. */
  protected get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Takes ownership of `value`; disposes it at once if this object is already disposed. */
  protected _register<T extends vscode.Disposable>(value: T): T {
    if (this._isDisposed) value.dispose();
    else this._disposables.push(value);
    return value;
  }

  dispose(): void {
    if (this._isDisposed) return;
    this._isDisposed = true;
    while (this._disposables.length) this._disposables.pop()?.dispose();
  }
}
