// Errors of the key services, by what they mean to the caller. None of them carries a plaintext,
// a ciphertext or a key: their messages may reach logs and HTTP answers.

/**
 * The key service (KMS) could not be reached, timed out, throttled or answered 5xx. Nothing was
 * encrypted or decrypted; the same call may succeed later (the API answers 503, an activity retries).
 */
export class KeyServiceUnavailableError extends Error {
  override readonly name = 'KeyServiceUnavailableError';
  /** What failed: encrypting (before anything was sent) or decrypting (possibly an answer to a request already applied). */
  readonly operation?: 'encrypt' | 'decrypt';
  constructor(message: string, options?: { cause?: unknown; operation?: 'encrypt' | 'decrypt' }) {
    super(message, options);
    this.operation = options?.operation;
  }
}

/**
 * The key service refused the key itself: access denied, key not found, disabled or pending deletion,
 * bad credentials, or a message written under a key that is not in the decrypt keyring. Retrying
 * cannot help; an operator has to fix the key configuration.
 */
export class KeyConfigurationError extends Error {
  override readonly name = 'KeyConfigurationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type MismatchReason = 'format' | 'conversation' | 'name' | 'integrity' | 'workflow' | 'namespace' | 'purpose';

/**
 * A ciphertext that does not belong where it was presented: another conversation, another attribute
 * name, another workflow, altered bytes, or not a Parley message at all.
 */
export class SecuredValueMismatchError extends Error {
  override readonly name = 'SecuredValueMismatchError';
  constructor(
    readonly reason: MismatchReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
