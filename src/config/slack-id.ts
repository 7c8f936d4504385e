import { z } from 'zod';

/** Slack ids: users (U…/W…), user groups (S…), channels (C…/G…/D…). Names are refused: they can be renamed. */
export const slackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/, 'not a Slack id (e.g. U024BE7LH, S0614TZR7, C024BE91L)');
