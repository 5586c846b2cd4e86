// mesh-sim's own name and version, read once from package.json: shown by --version
// and part of the Docker image tag, so a new version never runs an old image.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));
const info = JSON.parse(readFileSync(packageJson, 'utf8')) as { name: string; version: string };

export const PACKAGE_NAME = info.name;
export const VERSION = info.version;
/** The package's top folder: where scenarios/, dashboards/ and compose/ live. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
