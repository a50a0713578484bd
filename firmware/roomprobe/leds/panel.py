"""The box's front panel: the four indicators and the test button, on the configured pins.

``hardware.leds = "gpio"`` uses gpiozero's default pin factory (the Pi's);
``"mock"`` uses gpiozero's ``MockFactory`` with PWM pins, so a machine without
GPIO (the demo, the tests) runs the same code and its pins can be read.
"""

from __future__ import annotations

from ..config import HardwareConfig
from .driver import Indicators, PanelButton
from .legend import LedState


def pin_factory(kind: str):
    if kind == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    return None  # gpiozero chooses the Pi's own (lgpio on bookworm)


class Panel:
    def __init__(self, hw: HardwareConfig, factory=None):
        self.factory = factory if factory is not None else pin_factory(hw.leds)
        self.indicators = Indicators(hw.pins(), pin_factory=self.factory)
        self.button = PanelButton(hw.button_pin, hw.hold_s, pin_factory=self.factory)

    def show(self, states: dict[str, LedState]) -> None:
        self.indicators.show(states)

    def presses(self) -> list[str]:
        return self.button.take()

    def close(self) -> None:
        self.indicators.close()
        self.button.close()
