"""Shared by Scripts/bench-train's Python baselines: a timed stretch as "images/s cores",
the cores being the process's CPU seconds over the wall seconds (a framework that leaves
one of its threads' cores idle shows about 1 on 2 cores)."""
import os
import time


def start():
    return time.time(), os.times()


def timed(started, images):
    (wall0, cpu0), wall, cpu = started, time.time(), os.times()
    busy = cpu.user - cpu0.user + cpu.system - cpu0.system
    return "%.2f %.2f" % (images / (wall - wall0), busy / (wall - wall0))
