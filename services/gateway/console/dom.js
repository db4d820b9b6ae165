// Building the page from data: every text goes in through textContent (or an
// attribute), never parsed as HTML, so a title holding markup shows as text.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// A request's text carries its own language, so that the browser picks the
// right fonts and line breaking (Chinese, Russian, Belarusian, English).
export function langAttr(request) {
  return ['en', 'ru', 'be', 'zh'].includes(request && request.language) ? request.language : undefined;
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export const SECTORS = ['mechanical_engineering', 'woodworking', 'chemical_production',
  'information_technology', 'digitalization', 'green_economy', 'transport', 'geology_mining',
  'science', 'education', 'agriculture', 'energy', 'medicine', 'materials'];
export const STATUSES = ['SUBMITTED', 'PUBLISHED', 'IN_NEGOTIATION', 'AGREED', 'REJECTED',
  'WITHDRAWN', 'EXPIRED'];
export const COOPERATION = ['LICENSE', 'JOINT_VENTURE', 'TECHNICAL_COOPERATION',
  'RESEARCH_COOPERATION', 'EQUIPMENT_SUPPLY', 'INVESTMENT', 'TRAINING'];
export const IPR = ['NONE', 'PATENT_PENDING', 'PATENT_GRANTED', 'KNOW_HOW', 'COPYRIGHT'];
