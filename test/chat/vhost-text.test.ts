import { describe, expect, it } from 'vitest';
import { inVhost, nameInVhost, vhostList, vhostOption } from '../../src/chat/vhost-text.js';

describe('vhost text', () => {
  it('names a non-default vhost after a name and leaves the default one unsaid', () => {
    expect(nameInVhost('notifications.info', '/nova')).toBe('`notifications.info` (vhost `/nova`)');
    expect(nameInVhost('notifications.info', '/')).toBe('`notifications.info`');
    expect(inVhost('neutron')).toBe(' (vhost `neutron`)');
    expect(inVhost('/')).toBe('');
  });

  it('lists every vhost a run acts in, the default one too', () => {
    expect(vhostList(['/', '/nova'])).toBe('`/`, `/nova`');
    expect(vhostList([])).toBe('');
  });

  it('gives the -p option of a CLI hint only for a non-default vhost', () => {
    expect(vhostOption('/nova')).toBe('-p /nova ');
    expect(vhostOption('/')).toBe('');
  });
});
