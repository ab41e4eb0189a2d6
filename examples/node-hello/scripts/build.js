// The build step app.toml's [build] onbuild runs: records what was built, for the server to show.
const fs = require('node:fs');
const path = require('node:path');
const info = { builtBy: 'onbuild', node: process.version };
fs.writeFileSync(path.join(__dirname, '..', 'build-info.json'), `${JSON.stringify(info)}\n`);
console.log('wrote build-info.json');
