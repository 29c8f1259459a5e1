/**
 * The report's only style sheet, inlined in the page (the CSP allows exactly this text by its hash).
 * Readable on screen and on paper: folded sections open when printed is up to the reader's browser.
 */
export const REPORT_CSS = `
:root { color-scheme: light; --fail: #b42318; --unknown: #b54708; --pass: #067647; --skip: #667085; --line: #d0d5dd; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #101828; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h1 code { font-size: inherit; }
.index { margin-bottom: 1.5rem; }
.index td { font-size: .9rem; }
a { color: #175cd3; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; border-bottom: 2px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 0; }
h4 { margin: 1rem 0 .25rem; font-size: .95rem; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85rem; }
code { overflow-wrap: anywhere; }
.provenance, .note, footer { color: #475467; font-size: .9rem; }
.hash { font-size: .8rem; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1rem; }
.count { border-radius: 1rem; padding: .2rem .8rem; font-weight: 600; color: #fff; }
.count.fail, .status.fail { background: var(--fail); }
.count.unknown, .status.unknown { background: var(--unknown); }
.count.pass, .status.pass { background: var(--pass); }
.count.skip, .status.skip { background: var(--skip); }
.status { display: inline-block; min-width: 5.5em; text-align: center; border-radius: .25rem; padding: 0 .4rem; color: #fff; font-size: .8rem; font-weight: 700; letter-spacing: .03em; vertical-align: middle; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th.status { width: 7rem; }
th.rule { width: 30%; }
th.cis { width: 6rem; }
th.fix { width: 8rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.fields th { width: 11rem; color: #344054; font-weight: 600; }
.facts { max-width: 48rem; }
.rules thead th { background: #f2f4f7; }
.rule { border: 1px solid var(--line); border-left: .4rem solid var(--skip); border-radius: .35rem; padding: .75rem 1rem; margin: 0 0 1rem; break-inside: avoid; }
.rule.fail { border-left-color: var(--fail); }
.rule.unknown { border-left-color: var(--unknown); }
.rule .title { margin: .2rem 0 .5rem; color: #344054; }
.fix.held { border-left: 3px solid var(--unknown); padding-left: .6rem; }
.changes { padding-left: 1.25rem; margin: .25rem 0; }
.changes p { margin: .25rem 0; }
pre.diff { background: #f9fafb; border: 1px solid var(--line); border-radius: .25rem; padding: .5rem; margin: .25rem 0 .75rem; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.diff .add { color: #067647; background: #ecfdf3; }
pre.diff .del { color: #b42318; background: #fef3f2; }
pre.diff .head { color: #475467; font-weight: 600; }
pre.diff .hunk { color: #6941c6; }
details { border: 1px solid var(--line); border-radius: .35rem; padding: .5rem 1rem; margin: 0 0 .75rem; }
summary { cursor: pointer; font-weight: 600; }
details[open] summary { margin-bottom: .5rem; }
details.diff { border: none; padding: 0; margin: .25rem 0 .75rem; }
details.diff summary { font-weight: 400; color: #475467; font-size: .9rem; }
footer { margin-top: 2rem; border-top: 1px solid var(--line); }
@media print { body { max-width: none; padding: 0; } details { border: none; padding: 0; } .count, .status { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
`;
