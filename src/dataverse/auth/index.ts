export type { ClientSecretOptions } from './clientSecret';
export { ClientSecretTokenProvider } from './clientSecret';
export type { ConfidentialClientOptions } from './confidentialClient';
export { authError, ConfidentialClientTokenProvider, defaultScope } from './confidentialClient';
export type { ClientCertificateOptions } from './clientCertificate';
export { ClientCertificateTokenProvider, splitCertificatePem } from './clientCertificate';
export type { EmulatorIdentity } from './emulator';
export { emulatorTokenProvider } from './emulator';
export type { HttpsNetworkClientOptions } from './networkClient';
export { HttpsNetworkClient } from './networkClient';
export type { TokenCacheStorage } from './tokenCache';
export { FileTokenCacheStorage, MemoryTokenCacheStorage, tokenCachePlugin } from './tokenCache';
export type { AzureCliOptions } from './azureCli';
export { AzureCliTokenProvider, findAzureCli, parseAzureCliToken } from './azureCli';
export type { DeviceCodeOptions, DeviceCodePrompt, InteractiveOptions, PublicClientOptions } from './publicClient';
export {
  DATAVERSE_SAMPLE_CLIENT_ID,
  delegatedScope,
  DeviceCodeTokenProvider,
  InteractiveTokenProvider,
} from './publicClient';
export type { RenewingOptions } from './renewing';
export { RenewingToken } from './renewing';
export type { CertificateSignIn, SignInPorts, SignInTarget } from './signIn';
export { certificateTokenProvider, CHOOSE_ANOTHER_PEM, createTokenProvider, tokenProviderFor } from './signIn';
