// `mesh-sim image build|push`: mesh-sim's own image under a name of the user's, for a
// cluster to run (the Deployments and traffic Job `mesh-sim export` writes). Built here
// from this machine's Node.js, without a registry or a Dockerfile; pushed to the
// registry its name points at (or loaded into kind with `kind load docker-image`).

import { buildNamedImage } from '../runtime/docker/images.js';
import { connectDocker, dockerError } from '../runtime/docker/client.js';
import { ensureDocker } from '../runtime/docker/docker-runtime.js';
import { RuntimeUnavailableError } from '../runtime/runtime.js';
import { EXIT, UserError } from './exit-codes.js';
import { DEFAULT_IMAGE } from './export.js';
import type { Output } from './validate.js';

export interface ImageOptions {
  tag?: string;
}

/** Docker's reference grammar, loosely: [registry[:port]/]path[:tag], lower-case path. */
const IMAGE_NAME = /^([a-zA-Z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

export async function imageCommand(action: string, options: ImageOptions, output: Output): Promise<number> {
  const name = options.tag ?? DEFAULT_IMAGE;
  if (!IMAGE_NAME.test(name)) throw new UserError(`--tag takes an image name such as registry.example.com/team/mesh-sim:1, not \`${name}\``);
  if (action !== 'build' && action !== 'push') throw new UserError(`mesh-sim image takes build or push, not \`${action}\``);
  const docker = connectDocker();
  try {
    await ensureDocker(docker);
  } catch (error) {
    if (error instanceof RuntimeUnavailableError) throw new UserError(error.message.replace(/, or use --runtime process$/, ''));
    throw error;
  }
  if (action === 'build') {
    const built = await buildNamedImage(docker, name, (m) => output.err(`  ${m}`));
    output.err(`built ${name} (${built}): mesh-sim's workload and traffic generator on this machine's Node.js ${process.version}`);
    output.out(name);
    return EXIT.ok;
  }
  if (!(await docker.images.exists(name))) throw new UserError(`there is no image ${name} here: build it first (mesh-sim image build --tag ${name})`);
  try {
    await docker.images.push(name);
  } catch (error) {
    throw new UserError(`cannot push ${name}: ${dockerError(error).split('\n')[0]} (for kind, \`kind load docker-image ${name}\` needs no registry)`);
  }
  output.out(`pushed ${name}`);
  return EXIT.ok;
}
