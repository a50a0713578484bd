"""The indicators and the test button on GPIO, with gpiozero.

One RGB LED per indicator (``gpiozero.RGBLED``, PWM so amber and the pulse
work) and one push button (``gpiozero.Button``, to ground, internal pull-up).
gpiozero runs blinking and pulsing in its own background threads; this
module only changes what an LED does when its state changes. Button presses
arrive on gpiozero's thread and are handed to the daemon's loop through a
queue, so the loop stays the only place that acts.

The pin factory is gpiozero's: the real one on a Pi, ``MockFactory`` with
``MockPWMPin`` in tests and on a machine without GPIO (then the pins'
states can be read back, which the demo shows).
"""

from __future__ import annotations

import queue
import time

from gpiozero import RGBLED, Button

from .legend import TIMING, LedState, Pattern

OFF = (0.0, 0.0, 0.0)


def _apply(led: RGBLED, st: LedState) -> None:
    if st.pattern is Pattern.OFF:
        led.off()
    elif st.pattern is Pattern.STEADY:
        led.color = st.rgb
    elif st.pattern is Pattern.PULSE:
        fade_in, fade_out = TIMING[st.pattern]
        led.pulse(fade_in_time=fade_in, fade_out_time=fade_out, on_color=st.rgb, off_color=OFF)
    else:
        on, off = TIMING[st.pattern]
        led.blink(on_time=on, off_time=off, on_color=st.rgb, off_color=OFF)


class Indicators:
    """The RGB indicators: ``show()`` sets each to its state, changing only what changed."""

    def __init__(self, pins: dict[str, tuple[int, int, int]], pin_factory=None):
        self.leds = {
            name: RGBLED(*rgb, pwm=True, pin_factory=pin_factory) for name, rgb in pins.items()
        }
        self.current: dict[str, LedState] = {}

    def show(self, states: dict[str, LedState]) -> None:
        for name, st in states.items():
            if self.current.get(name) != st and name in self.leds:
                _apply(self.leds[name], st)
                self.current[name] = st

    def close(self) -> None:
        for led in self.leds.values():
            led.close()


class PanelButton:
    """A short press asks for a test now; holding it ``hold_s`` toggles meeting mode.

    Events ("short", "long") go into ``events`` for the daemon's loop to take.
    A hold fires once, when the hold time is reached (so staff see the
    meeting-mode light change while still pressing); its release is not also
    a short press.
    """

    def __init__(self, pin: int, hold_s: float = 3.0, pin_factory=None):
        self.button = Button(pin, pull_up=True, hold_time=hold_s, bounce_time=0.03,
                             pin_factory=pin_factory)  # fmt: skip
        self.events: queue.Queue[tuple[str, float]] = queue.Queue()
        self._held = False
        self.button.when_held = self._on_held
        self.button.when_released = self._on_released

    def _on_held(self) -> None:
        self._held = True
        self.events.put(("long", time.time()))

    def _on_released(self) -> None:
        if not self._held:
            self.events.put(("short", time.time()))
        self._held = False

    def take(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait()[0])
            except queue.Empty:
                return out

    def close(self) -> None:
        self.button.close()
