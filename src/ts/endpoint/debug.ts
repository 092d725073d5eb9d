// NODE_DEBUG=udt logging through util.debuglog.

import { debuglog } from 'node:util';

export const debug = debuglog('udt');
