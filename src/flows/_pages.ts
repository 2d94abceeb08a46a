/** The small pages the loopback listener answers the browser with. */
export function page(title: string, body: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>authctl — ${esc(title)}</title><body style="font:16px system-ui;margin:4em auto;max-width:36em"><h1>${esc(title)}</h1><p>${esc(body)}</p></body>`;
}
