"""A real oslo.messaging client for the integration tests: an RPC server, a caster or a notifier, configured the
way kolla-ansible and openstack-ansible configure OpenStack services (quorum queues, transient quorum queues, the
queue manager, stream fanout) or the classic way. Runs with whichever python3 has oslo.messaging (bookworm's 14 or
trixie's 16 in the devstack's root). Prints one line `READY {...}` once serving or `DONE {...}` when finished, so the
caller waits on output rather than on time. Never prints the transport URL: it holds the password."""

import argparse
import json
import os
import signal
import sys
import threading

from oslo_config import cfg
import oslo_messaging as messaging


def parse():
    p = argparse.ArgumentParser()
    p.add_argument('role', choices=['rpc-server', 'cast', 'notify'])
    p.add_argument('--topic', default='warren-test')
    p.add_argument('--server', default='host-1')
    p.add_argument('--exchange', default='openstack')
    p.add_argument('--count', type=int, default=1)
    p.add_argument('--fanout', action='store_true')
    p.add_argument('--quorum', action='store_true', help='rabbit_quorum_queue')
    p.add_argument('--transient-quorum', action='store_true', help='rabbit_transient_quorum_queue')
    p.add_argument('--queue-manager', action='store_true', help='use_queue_manager')
    p.add_argument('--stream-fanout', action='store_true', help='rabbit_stream_fanout')
    p.add_argument('--transient-ttl', type=int, default=1800, help='rabbit_transient_queues_ttl')
    p.add_argument('--hostname', default=None)
    p.add_argument('--processname', default=None)
    p.add_argument('--lock-path', default=None, help='[oslo_concurrency] lock_path, for the queue manager')
    p.add_argument('--event-type', default='compute.instance.create.error')
    p.add_argument('--priority', default='error')
    p.add_argument('--notify-topic', default='notifications', help='the notifier topic (oslo: [oslo_messaging_notifications] topics)')
    return p.parse_args()


def configure(args):
    # the global CONF, as a service uses: oslo registers some groups ([oslo_messaging_metrics]) only there
    conf = cfg.CONF
    # the URL comes from the environment so that it never shows in a process listing
    url = os.environ['WARREN_OSLO_URL']
    conf([], project='warren-test', default_config_files=[])
    messaging.set_transport_defaults(args.exchange)
    transport_cls = messaging.get_rpc_transport if args.role != 'notify' else messaging.get_notification_transport
    transport = transport_cls(conf, url=url)
    group = conf.oslo_messaging_rabbit
    overrides = {
        'rabbit_quorum_queue': args.quorum,
        'rabbit_transient_quorum_queue': args.transient_quorum,
        'use_queue_manager': args.queue_manager,
        'rabbit_stream_fanout': args.stream_fanout,
        'rabbit_transient_queues_ttl': args.transient_ttl,
    }
    if args.stream_fanout:
        # oslo refuses stream fanout without a prefetch (a stream consumer must set one); kolla sets 1
        overrides['rabbit_qos_prefetch_count'] = 1
    if args.hostname:
        overrides['hostname'] = args.hostname
    if args.processname:
        overrides['processname'] = args.processname
    for key, value in overrides.items():
        if hasattr(group, key):
            conf.set_override(key, value, group='oslo_messaging_rabbit')
        elif value:
            sys.exit(f'this oslo.messaging has no option {key}')
    if args.lock_path:
        # the queue manager's external lock reads lockutils' own (global) config, as in a service's [oslo_concurrency]
        from oslo_concurrency import lockutils
        lockutils.set_defaults(args.lock_path)
    return conf, transport


class Endpoint:
    def __init__(self):
        self.seen = 0

    def ping(self, ctxt, **kwargs):
        self.seen += 1
        return 'pong'


def main():
    args = parse()
    # oslo names its connections `<basename of argv[0]>:<pid>:<uuid>`; run as `python3 -c`, argv[0] is '-c', so
    # take the service's name as a real service's would be (nova-compute, …)
    sys.argv[0] = args.processname or f'oslo-{args.role}'
    # oslo's queue manager reads /proc/<process group>/stat to tell a restarted service from its forks. When the
    # group's leader has already exited (the test run was started from a shell that went away, as a backgrounded
    # CI job is), that file does not exist and the transport cannot be made: lead a group of our own then, as a
    # service manager would have started the service.
    if args.queue_manager and not os.path.exists(f'/proc/{os.getpgrp()}/stat'):
        os.setpgrp()
    conf, transport = configure(args)
    if args.role == 'rpc-server':
        target = messaging.Target(topic=args.topic, server=args.server)
        endpoint = Endpoint()
        server = messaging.get_rpc_server(transport, target, [endpoint], executor='threading')
        server.start()
        print('READY ' + json.dumps({'topic': args.topic, 'server': args.server, 'pid': os.getpid()}), flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        while not done.wait(0.5):
            pass
        server.stop()
        server.wait()
        print('DONE ' + json.dumps({'seen': endpoint.seen}), flush=True)
    elif args.role == 'cast':
        target = messaging.Target(topic=args.topic, fanout=args.fanout)
        client = messaging.get_rpc_client(transport, target) if hasattr(messaging, 'get_rpc_client') \
            else messaging.RPCClient(transport, target)
        for i in range(args.count):
            client.cast({}, 'ping', n=i)
        print('DONE ' + json.dumps({'cast': args.count}), flush=True)
    else:
        notifier = messaging.Notifier(transport, driver='messagingv2', publisher_id=f'compute.{args.server}',
                                      topics=[args.notify_topic])
        send = getattr(notifier, args.priority)
        for i in range(args.count):
            send({}, args.event_type, {'instance_id': f'i-{i}', 'host': args.server})
        print('DONE ' + json.dumps({'notified': args.count}), flush=True)
    transport.cleanup()


if __name__ == '__main__':
    main()
