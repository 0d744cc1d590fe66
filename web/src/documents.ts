// The Documents view: collections (OpenAI vector stores) listed, created and deleted; the
// files of the chosen one with their status, uploaded (POST /v1/files, then attached to the
// store) and removed; "Chat with this collection" opens the chat with it selected. File
// names and error messages come from the server or the user's disk: textContent only.
import {
  FileObject,
  VectorStore,
  VectorStoreFile,
  addStoreFile,
  createStore,
  deleteStore,
  listFiles,
  listStoreFiles,
  listStores,
  removeStoreFile,
  uploadFile,
} from './api';
import { $, button, clearViewError, el, formatBytes, showViewError } from './dom';

export interface DocumentsHost {
  // The collections changed (the chat's Documents picker follows).
  storesChanged(stores: VectorStore[]): void;
  // "Chat with this collection".
  chatWith(storeId: string): void;
}

const statusText: Record<VectorStoreFile['status'], string> = {
  in_progress: 'indexing',
  completed: 'ready',
  failed: 'failed',
  cancelled: 'cancelled',
};

export class DocumentsView {
  private stores: VectorStore[] = [];
  private selected: string | null = null;
  private pollTimer = 0;

  constructor(private readonly host: DocumentsHost) {
    $<HTMLFormElement>('store-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.create();
    });
    $<HTMLFormElement>('upload-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.upload();
    });
  }

  leave(): void {
    clearTimeout(this.pollTimer);
  }

  async refresh(): Promise<void> {
    try {
      this.stores = await listStores();
    } catch (e) {
      this.error(`Could not list the collections: ${(e as Error).message}`);
      return;
    }
    this.host.storesChanged(this.stores);
    if (this.selected && !this.stores.some((s) => s.id === this.selected)) this.selected = null;
    if (!this.selected && this.stores.length) this.selected = this.stores[0].id;
    this.renderStores();
    await this.refreshFiles();
  }

  private error(text: string): void {
    showViewError($<HTMLElement>('view-documents'), text);
  }

  private clearError(): void {
    clearViewError($<HTMLElement>('view-documents'));
  }

  private status(text: string): void {
    $<HTMLParagraphElement>('documents-status').textContent = text;
  }

  private renderStores(): void {
    const list = $<HTMLUListElement>('store-list');
    list.replaceChildren(
      ...this.stores.map((s) => {
        const li = el('li');
        li.dataset.store = s.id;
        if (s.id === this.selected) li.className = 'current';
        const info = el('div', '', 'row-info');
        const open = button(s.name || s.id, `Show the files of ${s.name || s.id}`, () => {
          this.selected = s.id;
          this.renderStores();
          void this.refreshFiles();
        });
        open.className = 'link-button row-name';
        if (s.id === this.selected) open.setAttribute('aria-pressed', 'true');
        else open.setAttribute('aria-pressed', 'false');
        info.append(open);
        const counts = `${s.file_counts.completed} ready` +
          (s.file_counts.failed ? ` · ${s.file_counts.failed} failed` : '') +
          ` · ${formatBytes(s.usage_bytes)}`;
        info.append(el('span', counts, 'row-detail'));
        const actions = el('div', '', 'row-actions');
        actions.append(
          button('Chat with this collection', `Chat with this collection: ${s.name || s.id}`,
            () => this.host.chatWith(s.id), true),
          button('Delete', `Delete the collection ${s.name || s.id}`, () => void this.remove(s)),
        );
        li.append(info, actions);
        return li;
      }),
    );
    if (!this.stores.length) list.append(el('li', 'No collections yet: create one.', 'empty'));
  }

  private async refreshFiles(): Promise<void> {
    clearTimeout(this.pollTimer);
    const detail = $<HTMLElement>('store-detail');
    const store = this.stores.find((s) => s.id === this.selected);
    detail.hidden = !store;
    if (!store) return;
    $<HTMLHeadingElement>('store-title').textContent = `Files in ${store.name || store.id}`;
    let files: VectorStoreFile[];
    let names: FileObject[];
    try {
      [files, names] = await Promise.all([listStoreFiles(store.id), listFiles()]);
    } catch (e) {
      this.error(`Could not list the files: ${(e as Error).message}`);
      return;
    }
    if (store.id !== this.selected) return;  // another collection was chosen meanwhile
    const byId = new Map(names.map((f) => [f.id, f]));
    const list = $<HTMLUListElement>('file-list');
    list.replaceChildren(
      ...files.map((f) => {
        const li = el('li');
        li.dataset.file = f.id;
        const name = byId.get(f.id)?.filename ?? f.id;
        const info = el('div', '', 'row-info');
        info.append(el('span', name, 'row-name'));
        const detail = [statusText[f.status] ?? f.status, formatBytes(f.usage_bytes)];
        if (f.last_error) detail.push(f.last_error.message);
        const line = el('span', detail.join(' · '), `row-detail file-status status-${f.status}`);
        info.append(line);
        li.append(info, button('Remove', `Remove ${name}`, () => void this.removeFile(store.id, f.id, name)));
        return li;
      }),
    );
    if (!files.length) list.append(el('li', 'No files yet: add some above.', 'empty'));
    // Indexing happens on the server after the upload answers: look again until it is done.
    if (files.some((f) => f.status === 'in_progress')) {
      this.pollTimer = window.setTimeout(() => void this.refresh(), 500);
    }
  }

  private async create(): Promise<void> {
    const input = $<HTMLInputElement>('store-name');
    const name = input.value.trim();
    if (!name) return;
    this.clearError();
    try {
      const store = await createStore(name);
      input.value = '';
      this.selected = store.id;
      this.status(`Collection ${name} created.`);
    } catch (e) {
      this.error(`Could not create the collection: ${(e as Error).message}`);
    }
    await this.refresh();
  }

  private async remove(store: VectorStore): Promise<void> {
    if (!confirm(`Delete the collection "${store.name || store.id}"?`)) return;
    this.clearError();
    try {
      await deleteStore(store.id);
      this.status('Collection deleted.');
    } catch (e) {
      this.error(`Could not delete the collection: ${(e as Error).message}`);
    }
    await this.refresh();
  }

  private async upload(): Promise<void> {
    const input = $<HTMLInputElement>('upload-input');
    const store = this.selected;
    if (!store || !input.files?.length) return;
    this.clearError();
    const failures: string[] = [];
    for (const file of [...input.files]) {
      this.status(`Uploading ${file.name}.`);
      try {
        const uploaded = await uploadFile(file);
        await addStoreFile(store, uploaded.id);
      } catch (e) {
        failures.push(`${file.name}: ${(e as Error).message}`);
      }
    }
    input.value = '';
    if (failures.length) this.error(`Could not add ${failures.join('; ')}`);
    else this.status('Upload finished.');
    await this.refresh();
  }

  private async removeFile(store: string, fileId: string, name: string): Promise<void> {
    this.clearError();
    try {
      // Out of the collection (and its index); the uploaded file stays in /v1/files, where
      // another collection may use it too.
      await removeStoreFile(store, fileId);
      this.status(`${name} removed.`);
    } catch (e) {
      this.error(`Could not remove ${name}: ${(e as Error).message}`);
    }
    await this.refresh();
  }
}
