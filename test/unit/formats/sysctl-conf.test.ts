import { expect } from 'chai';
import { parseSysctlConf, sysctlFileOrder } from '../../../agent/formats/sysctl-conf.js';

describe('sysctl.d codec', () => {
  it('parses keys with dots or slashes, comments and the ignore-failure dash', () => {
    expect(parseSysctlConf('# c\n; c\nkernel.panic = 10\n-vm/panic_on_oom=0\n').map((s) => [s.key, s.value])).to.deep.equal([
      ['kernel.panic', '10'],
      ['vm.panic_on_oom', '0'],
    ]);
  });

  it('rejects a line without = and names the line', () => {
    expect(() => parseSysctlConf('a = 1\nnonsense\n'))
      .to.throw()
      .with.property('line', 2);
  });

  it('orders files by name across dirs, /etc masking /usr/lib, and reads /etc/sysctl.conf last', () => {
    const order = sysctlFileOrder(
      new Map([
        ['/etc/sysctl.d', ['90-kube-harden.conf', '10-net.conf', 'README']],
        ['/usr/lib/sysctl.d', ['50-default.conf', '10-net.conf']],
      ]),
      true,
    );
    expect(order).to.deep.equal([
      '/etc/sysctl.d/10-net.conf',
      '/usr/lib/sysctl.d/50-default.conf',
      '/etc/sysctl.d/90-kube-harden.conf',
      '/etc/sysctl.conf',
    ]);
  });
});
