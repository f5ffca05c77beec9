export type { ClientSecretOptions } from './clientSecret';
export { authError, ClientSecretTokenProvider, defaultScope } from './clientSecret';
export type { EmulatorIdentity } from './emulator';
export { emulatorTokenProvider } from './emulator';
export type { HttpsNetworkClientOptions } from './networkClient';
export { HttpsNetworkClient } from './networkClient';
export type { TokenCacheStorage } from './tokenCache';
export { FileTokenCacheStorage, MemoryTokenCacheStorage, tokenCachePlugin } from './tokenCache';
