/** The timeline's colour key, with text so it does not rely on colour alone. */
export function legend(): HTMLElement {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  ul.setAttribute('aria-label', 'Legend');
  for (const [cls, text] of [
    ['acs', 'ACS update'],
    ['bua', 'BUA error correction (underlined)'],
    ['manual', 'manual update (dotted)'],
    ['reuse', 'reuse cache'],
    ['off', 'update removed by hand'],
  ] as const) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch ${cls}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, text);
    ul.append(li);
  }
  return ul;
}
