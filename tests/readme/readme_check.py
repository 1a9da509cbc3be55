#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Keep the README's worked example true (tests/readme/readme_test.sh).

  readme_check.py command README DEMO_SCRIPT
      the README's demo command (the block after <!-- demo-command ... -->)
      is, word for word, the cnmux command .ci/demo runs
  readme_check.py output README DEMO_OUTPUT
      .ci/demo's output has the shape of the README's block after
      <!-- demo-output ... -->: the same lines in the same order with the same
      words; numbers, MAC addresses, times and the output directory may differ

Exit status 0 when true; 1 with the differences on stdout.
"""
import re
import shlex
import sys


def block_after(readme, marker):
    """The fenced block that follows the line starting with <!-- MARKER."""
    lines = open(readme).read().split('\n')
    for i, line in enumerate(lines):
        if line.startswith('<!-- ' + marker):
            j = i + 1
            if not lines[j].startswith('```'):
                sys.exit(f'{readme}: no ``` block right after <!-- {marker}')
            k = lines.index('```', j + 1)
            return lines[j + 1:k]
    sys.exit(f'{readme}: no <!-- {marker} marker')


def command_words(lines):
    text = ' '.join(line.rstrip('\\').strip() for line in lines)
    return shlex.split(text)


def demo_words(script):
    """The words of the cnmux command in .ci/demo, its binary as the README names it."""
    lines = open(script).read().split('\n')
    for i, line in enumerate(lines):
        if line.startswith('"$cnmux" '):
            cmd = []
            while True:
                cmd.append(lines[i])
                if not lines[i].endswith('\\'):
                    break
                i += 1
            words = command_words(cmd)
            words[0] = './build/app/cnmux/cnmux'
            return words
    sys.exit(f'{script}: no line starting with "$cnmux"')


def shape(line):
    line = re.sub(r'/tmp/cnmux-demo\.[A-Za-z0-9]+', '<dir>', line)
    line = re.sub(r'\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b', '<mac>', line)
    line = re.sub(r'\d+(\.\d+)?', '#', line)
    indent = len(line) - len(line.lstrip(' '))
    return ' ' * indent + ' '.join(line.split())


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('command', 'output'):
        sys.exit(__doc__)
    what, readme, other = sys.argv[1:]
    if what == 'command':
        want = command_words(block_after(readme, 'demo-command'))
        got = demo_words(other)
        if want != got:
            print('README demo command:', ' '.join(want))
            print('.ci/demo runs:      ', ' '.join(got))
            return 1
        print(f'ok   the README shows the command .ci/demo runs ({len(got)} words)')
        return 0
    want = [shape(l) for l in block_after(readme, 'demo-output')]
    got_raw = open(other).read().rstrip('\n').split('\n')
    got = [shape(l) for l in got_raw]
    bad = 0
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else '(no line)'
        g = got[i] if i < len(got) else '(no line)'
        if w != g:
            print(f'line {i + 1}:\n  README:   {w}\n  .ci/demo: {g}')
            bad += 1
    if bad:
        print(f'{bad} line(s) of .ci/demo\'s output differ in shape from the README '
              f'({len(got)} lines, README {len(want)})')
        return 1
    print(f'ok   .ci/demo\'s output has the README\'s shape ({len(got)} lines)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
