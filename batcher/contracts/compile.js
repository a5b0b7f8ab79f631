#!/usr/bin/env node
// Compiles the bridge contracts with the pinned `solc` npm package (tools/package.json) and
// writes their artifacts (ABI and bytecode) to artifacts/. With `--check`, writes nothing and
// fails when a committed artifact differs from what the source compiles to.
//
//   node batcher/contracts/compile.js           # writes batcher/contracts/artifacts/*.json
//   node batcher/contracts/compile.js --check   # what the tests run
'use strict';
const fs = require('fs');
const path = require('path');
const here = __dirname;
const solc = require(path.join(here, '..', '..', 'tools', 'node_modules', 'solc'));

// The settings every artifact is built with; they are recorded in the artifact.
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '': ['ast'], '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

const sources = {};
for (const file of fs.readdirSync(here).filter((name) => name.endsWith('.sol')).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(here, file), 'utf8') };
}
const output = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings: SETTINGS })));
const errors = (output.errors || []).filter((error) => error.severity === 'error');
for (const message of output.errors || []) console.error(message.formattedMessage);
if (errors.length > 0) process.exit(1);

// A library gets no artifact: its functions are internal, compiled into the contracts that call them.
const libraries = new Set();
for (const [file, source] of Object.entries(output.sources)) {
  for (const node of source.ast.nodes) {
    if (node.nodeType === 'ContractDefinition' && node.contractKind === 'library') libraries.add(`${file}:${node.name}`);
  }
}

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, contract] of Object.entries(contracts)) {
    if (contract.evm.bytecode.object.length === 0) continue; // interfaces
    if (libraries.has(`${file}:${name}`)) continue;
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: { version: solc.version(), settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion } },
      abi: contract.abi,
      bytecode: { object: '0x' + contract.evm.bytecode.object },
      deployedBytecode: { object: '0x' + contract.evm.deployedBytecode.object },
    };
    const text = JSON.stringify(artifact, null, 2) + '\n';
    const target = path.join(here, 'artifacts', name + '.json');
    if (check) {
      const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
      if (committed !== text) {
        console.error(`${path.relative(process.cwd(), target)} differs from what ${file} compiles to: run node batcher/contracts/compile.js`);
        stale++;
      }
    } else {
      fs.writeFileSync(target, text);
      console.log(`wrote ${path.relative(process.cwd(), target)}`);
    }
  }
}
process.exit(stale === 0 ? 0 : 1);
