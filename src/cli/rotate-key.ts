// `npm run rotate-key [-- --file PATH]`: puts a new key first in the local key file. Running
// processes keep decrypting with every key in the file and reread it when they meet a newer key;
// they encrypt under the new key once restarted. With KMS_KEY_ID set there is no local key to rotate.
import { ConfigError, loadConfig } from '../config';
import { rotateLocalKey } from '../security/keys';

function main(): void {
  const args = process.argv.slice(2);
  const fileFlag = args.indexOf('--file');
  let file: string;
  if (fileFlag >= 0) {
    if (!args[fileFlag + 1]) throw new ConfigError('--file needs a path');
    file = args[fileFlag + 1];
  } else {
    const { keys } = loadConfig(process.env, ['keys']);
    if (keys.securedData.kind !== 'local') {
      throw new ConfigError(
        'KMS_KEY_ID is set: keys live in AWS KMS. To move to a new KMS key, add its ARN to KMS_DECRYPT_KEY_IDS and restart every process, ' +
          'then set KMS_KEY_ID to it with the old ARN kept in KMS_DECRYPT_KEY_IDS and restart again.',
      );
    }
    file = keys.securedData.keyFile;
  }
  const { keyId, keyIds } = rotateLocalKey(file);
  console.log(`new key ${keyId} now encrypts (in ${file}); keys that still decrypt: ${keyIds.join(', ')}`);
  console.log('Restart the API and the workers so they encrypt under it; until then they keep using the previous key.');
}

try {
  main();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
