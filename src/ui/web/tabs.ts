/** Tabs as the ARIA pattern has them: buttons with role=tab, arrow keys move between them. */
export function setupTabs(tabs: readonly HTMLButtonElement[], onShow?: (panelId: string) => void): void {
  const show = (tab: HTMLButtonElement): void => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(t.getAttribute('aria-controls') ?? '');
      if (panel) panel.hidden = !selected;
    }
    onShow?.(tab.getAttribute('aria-controls') ?? '');
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => show(tab));
    tab.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (step === 0) return;
      e.preventDefault();
      const next = tabs[(i + step + tabs.length) % tabs.length]!;
      next.focus();
      show(next);
    });
  });
}
