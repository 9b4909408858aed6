#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Compiles every contracts/src/**/*.sol with solc-js (standard JSON interface)
// and writes one build/<ContractName>.json artifact per contract.
// Output is deterministic: rerunning on unchanged sources yields identical files.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname;
const SRC_DIR = path.join(ROOT, 'src');
const BUILD_DIR = path.join(ROOT, 'build');

function die(msg) {
  process.stderr.write(`compile.js: error: ${msg}\n`);
  process.exit(1);
}

// Collect sources recursively; keys are stable, cwd-independent relative paths.
function collectSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...collectSources(full));
    else if (entry.isFile() && entry.name.endsWith('.sol')) out.push(full);
  }
  return out;
}

const files = collectSources(SRC_DIR).sort();
if (files.length === 0) die(`no .sol files found in ${SRC_DIR}`);

const sources = {};
for (const file of files) {
  const key = path.relative(ROOT, file).split(path.sep).join('/');
  sources[key] = { content: fs.readFileSync(file, 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: {
      '*': {
        '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'],
      },
    },
  },
};

// Resolve imports relative to contracts/ (e.g. `import "./Foo.sol";` inside src/).
function findImports(importPath) {
  const full = path.resolve(ROOT, importPath);
  if (!full.startsWith(ROOT + path.sep)) return { error: `import outside contracts/: ${importPath}` };
  try {
    return { contents: fs.readFileSync(full, 'utf8') };
  } catch (e) {
    return { error: `file not found: ${importPath}` };
  }
}

const compilerVersion = solc.version();
let output;
try {
  output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
} catch (e) {
  die(`solc failed: ${e && e.message ? e.message : e}`);
}

let hasErrors = false;
for (const err of output.errors || []) {
  const text = (err.formattedMessage || err.message || JSON.stringify(err)).trimEnd();
  process.stderr.write(text + '\n');
  if (err.severity === 'error') hasErrors = true;
}
if (hasErrors) die('compilation failed');
if (!output.contracts) die('compiler produced no contracts');

fs.mkdirSync(BUILD_DIR, { recursive: true });

const written = new Map(); // contractName -> source key
for (const sourceKey of Object.keys(output.contracts).sort()) {
  const contracts = output.contracts[sourceKey];
  for (const name of Object.keys(contracts).sort()) {
    if (written.has(name)) {
      die(`duplicate contract name ${name} in ${sourceKey} and ${written.get(name)}`);
    }
    const c = contracts[name];
    const evm = c.evm || {};
    const mids = evm.methodIdentifiers || {};
    const methodIdentifiers = {};
    for (const sig of Object.keys(mids).sort()) methodIdentifiers[sig] = '0x' + mids[sig];

    const artifact = {
      contractName: name,
      sourceName: sourceKey,
      abi: c.abi,
      bytecode: '0x' + ((evm.bytecode && evm.bytecode.object) || ''),
      deployedBytecode: '0x' + ((evm.deployedBytecode && evm.deployedBytecode.object) || ''),
      methodIdentifiers,
      compiler: compilerVersion,
    };
    const outFile = path.join(BUILD_DIR, `${name}.json`);
    fs.writeFileSync(outFile, JSON.stringify(artifact, null, 2) + '\n');
    written.set(name, sourceKey);
    const codeBytes = (artifact.deployedBytecode.length - 2) / 2;
    console.log(`wrote ${path.relative(path.dirname(ROOT), outFile)} (${sourceKey}:${name}, ${codeBytes} bytes runtime)`);
  }
}

// Remove artifacts of contracts that no longer exist, so build/ mirrors src/.
for (const entry of fs.readdirSync(BUILD_DIR)) {
  if (entry.endsWith('.json') && !written.has(entry.slice(0, -5))) {
    fs.unlinkSync(path.join(BUILD_DIR, entry));
    console.log(`removed stale ${path.relative(path.dirname(ROOT), path.join(BUILD_DIR, entry))}`);
  }
}
