// The Models view: what the server knows. The memory budget as a meter, the loaded models
// (unload), the router's routes (they are models to a client too), and the catalog with each
// variant's cached and loaded state (download with a progress bar, load, unload). Every text
// from the server is set with textContent; a failing call shows its message in the view.
import {
  CatalogRow,
  Loaded,
  RouterStatus,
  downloadModel,
  listCatalog,
  listLoaded,
  loadModel,
  routerStatus,
  unloadModel,
} from './api';
import { $, button, clearViewError, el, formatBytes, showViewError } from './dom';

export class ModelsView {
  private catalog: CatalogRow[] = [];
  private loaded: Loaded = { models: [], memory_budget_bytes: 0, memory_used_bytes: 0 };
  private router: RouterStatus | null = null;
  // Downloads in progress by catalog name: their percentage survives a re-render.
  private downloads = new Map<string, number>();
  private busy = new Set<string>();
  private readonly filter = $<HTMLInputElement>('catalog-filter');

  constructor(private readonly modelsChanged: () => void) {
    this.filter.addEventListener('input', () => this.renderCatalog());
  }

  async refresh(): Promise<void> {
    const [catalog, loaded, router] = await Promise.allSettled([
      listCatalog(),
      listLoaded(),
      routerStatus(),
    ]);
    const problems: string[] = [];
    if (catalog.status === 'fulfilled') this.catalog = catalog.value;
    else problems.push(`the catalog: ${(catalog.reason as Error).message}`);
    if (loaded.status === 'fulfilled') this.loaded = loaded.value;
    else problems.push(`the loaded models: ${(loaded.reason as Error).message}`);
    if (router.status === 'fulfilled') this.router = router.value;
    else problems.push(`the router: ${(router.reason as Error).message}`);
    this.render();
    for (const p of problems) this.error(`Could not read ${p}`);
  }

  private error(text: string): void {
    showViewError($<HTMLElement>('view-models'), text);
  }

  private clearError(): void {
    clearViewError($<HTMLElement>('view-models'));
  }

  private status(text: string): void {
    $<HTMLParagraphElement>('models-status').textContent = text;
  }

  private render(): void {
    this.renderMemory();
    this.renderLoaded();
    this.renderRoutes();
    this.renderCatalog();
  }

  private renderMemory(): void {
    const { memory_used_bytes: used, memory_budget_bytes: budget } = this.loaded;
    const box = $<HTMLDivElement>('memory');
    const label = el('label', '', 'meter-label');
    label.htmlFor = 'memory-meter';
    label.textContent = budget
      ? `${formatBytes(used)} used of the ${formatBytes(budget)} budget`
      : `${formatBytes(used)} used (no budget set)`;
    const meter = el('meter');
    meter.id = 'memory-meter';
    meter.min = 0;
    meter.max = budget || Math.max(used, 1);
    meter.value = used;
    meter.high = meter.max * 0.8;
    meter.optimum = 0;
    box.replaceChildren(label, meter);
  }

  private renderLoaded(): void {
    const list = $<HTMLUListElement>('loaded-list');
    list.replaceChildren(
      ...this.loaded.models.map((m) => {
        const li = el('li');
        li.dataset.model = m.id;
        const info = el('div', '', 'row-info');
        info.append(el('span', m.id, 'row-name'));
        const details = [formatBytes(m.memory_bytes)];
        if (m.in_flight) details.push(`${m.in_flight} in flight`);
        if (m.ttl_seconds > 0) details.push(`unloads after ${m.ttl_left_seconds} s idle`);
        info.append(el('span', details.join(' · '), 'row-detail'));
        li.append(info, button('Unload', `Unload ${m.id}`, () => void this.unload(m.id)));
        return li;
      }),
    );
    if (!this.loaded.models.length) list.append(el('li', 'No model is loaded.', 'empty'));
  }

  private renderRoutes(): void {
    const list = $<HTMLUListElement>('route-list');
    const routes = this.router?.routes ?? [];
    list.replaceChildren(
      ...routes.map((r) => {
        const li = el('li');
        li.dataset.route = r.name;
        const info = el('div', '', 'row-info');
        info.append(el('span', r.name, 'row-name'));
        info.append(el('span', `${r.policy} → ${r.targets.join(', ')}`, 'row-detail'));
        li.append(info);
        return li;
      }),
    );
    if (!routes.length) {
      list.append(
        el('li', this.router ? 'The router has no routes.' : 'No router (hearth serve --router).', 'empty'),
      );
    }
  }

  private isLoaded(row: CatalogRow): boolean {
    return this.loaded.models.some((m) => m.id === row.name || m.id === row.alias);
  }

  private renderCatalog(): void {
    const list = $<HTMLUListElement>('catalog-list');
    const q = this.filter.value.trim().toLowerCase();
    const rows = this.catalog.filter(
      (r) => !q || r.name.toLowerCase().includes(q) || r.displayName.toLowerCase().includes(q),
    );
    list.replaceChildren(...rows.map((r) => this.catalogRow(r)));
    if (!rows.length) list.append(el('li', q ? 'No model matches.' : 'The catalog is empty.', 'empty'));
  }

  private catalogRow(r: CatalogRow): HTMLLIElement {
    const li = el('li');
    li.dataset.model = r.name;
    const info = el('div', '', 'row-info');
    info.append(el('span', r.name, 'row-name'));
    const details = [r.displayName !== r.alias ? r.displayName : '', r.parameters,
      `${r.fileSizeMb} MiB`, r.license].filter(Boolean);
    info.append(el('span', details.join(' · '), 'row-detail'));
    const loaded = this.isLoaded(r);
    const badges = el('div', '', 'badges');
    if (r.cached) badges.append(el('span', 'cached', 'badge'));
    if (loaded) badges.append(el('span', 'loaded', 'badge loaded'));
    const actions = el('div', '', 'row-actions');
    const pct = this.downloads.get(r.name);
    if (pct !== undefined) {
      const bar = el('progress');
      bar.max = 100;
      bar.value = pct;
      bar.setAttribute('aria-label', `Downloading ${r.name}`);
      actions.append(bar, el('span', `${pct.toFixed(0)}%`, 'row-detail'));
    } else if (!r.cached) {
      actions.append(button('Download', `Download ${r.name}`, () => void this.download(r), true));
    } else if (loaded) {
      const id = this.loaded.models.find((m) => m.id === r.name || m.id === r.alias)!.id;
      actions.append(button('Unload', `Unload ${r.name}`, () => void this.unload(id)));
    } else {
      const b = button('Load', `Load ${r.name}`, () => void this.load(r.name), true);
      b.disabled = this.busy.has(r.name);
      actions.append(b);
    }
    li.append(info, badges, actions);
    return li;
  }

  private async download(r: CatalogRow): Promise<void> {
    this.clearError();
    this.downloads.set(r.name, 0);
    this.renderCatalog();
    this.status(`Downloading ${r.name}.`);
    let painted = 0;
    try {
      await downloadModel(r.name, (pct) => {
        this.downloads.set(r.name, pct);
        // Progress lines may come in bursts: the bar is repainted every 50 ms at most.
        const now = performance.now();
        if (now - painted > 50 || pct >= 100) {
          painted = now;
          const bar = document.querySelector<HTMLProgressElement>(
            `#catalog-list li[data-model="${CSS.escape(r.name)}"] progress`);
          if (bar) {
            bar.value = pct;
            (bar.nextElementSibling as HTMLElement).textContent = `${pct.toFixed(0)}%`;
          }
        }
      });
      this.status(`${r.name} downloaded.`);
    } catch (e) {
      this.error(`Could not download ${r.name}: ${(e as Error).message}`);
    } finally {
      this.downloads.delete(r.name);
    }
    await this.refresh();
  }

  private async load(name: string): Promise<void> {
    this.clearError();
    this.busy.add(name);
    this.renderCatalog();
    this.status(`Loading ${name}.`);
    try {
      await loadModel(name);
      this.status(`${name} loaded.`);
      this.modelsChanged();
    } catch (e) {
      this.error(`Could not load ${name}: ${(e as Error).message}`);
    } finally {
      this.busy.delete(name);
    }
    await this.refresh();
  }

  private async unload(id: string): Promise<void> {
    this.clearError();
    try {
      await unloadModel(id);
      this.status(`${id} unloaded.`);
      this.modelsChanged();
    } catch (e) {
      this.error(`Could not unload ${id}: ${(e as Error).message}`);
    }
    await this.refresh();
  }
}
