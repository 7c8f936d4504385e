/** The last gate before anything reaches a chat: every string in the message, blocks included, is scrubbed. */
import { scrubDeep } from '../secrets.js';
import type { ChatMessage } from './chat-message.js';

export function scrubMessage<M extends ChatMessage>(message: M): M {
  return scrubDeep(message) as M;
}
