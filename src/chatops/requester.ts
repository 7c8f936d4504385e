/**
 * Who asks: the user and the channel of a command or a click, as the front end saw them. Its own file because both
 * the access policy and the workflow engine's control interface speak of it, and neither should import the other.
 */
export interface Requester {
  userId: string;
  channelId: string;
  /** User-group ids the user belongs to, when known. */
  groups?: readonly string[];
}
