import type { ConfidentialClientOptions } from './confidentialClient';
import { ConfidentialClientTokenProvider } from './confidentialClient';

export interface ClientSecretOptions extends ConfidentialClientOptions {
  readonly clientSecret: string;
}

/** App-only tokens for a service principal with a client secret (MSAL's client-credentials flow). */
export class ClientSecretTokenProvider extends ConfidentialClientTokenProvider {
  constructor(options: ClientSecretOptions) {
    super(options, { auth: { clientSecret: options.clientSecret }, secrets: [options.clientSecret] });
  }
}
