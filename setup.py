"""clinicq: outpatient queue kiosks, TV boards, voice calls and the hub that runs them."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="clinicq",
    version="0.1.0",
    description="Outpatient queue, kiosk, display and device hub for hospitals (Vietnamese first)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["hub*", "kiosk*", "display*", "caller_console*", "firmware_sim*"]),
    include_package_data=True,
    package_data={
        "hub": ["migrations/*.ini", "migrations/*.py", "migrations/versions/*.py", "api/responses.json",
                "web/templates/**/*", "web/static/**/*", "default_config/*.toml", "domain/insurance/xsd/*.xsd"],
        "kiosk": ["templates/*", "static/*"],
        "display": ["templates/*", "static/*"],
        "caller_console": ["templates/*", "static/*"],
    },
    install_requires=[
        "Flask>=3.0,<4",
        "Flask-SocketIO>=5.3,<6",
        "python-socketio[client]>=5.11,<6",
        "gevent>=24.2",
        "simple-websocket>=1.0,<2",
        "SQLAlchemy>=2.0.30,<2.1",
        "alembic>=1.13,<2",
        "pydantic>=2.6,<3",
        "click>=8.1,<9",
        "paho-mqtt>=2.0,<3",
        "amqtt>=0.11,<0.13",
        "argon2-cffi>=23.1",
        "itsdangerous>=2.1,<3",
        "Flask-Login>=0.6.3,<0.7",
        "Flask-WTF>=1.2,<2",
        "python-escpos>=3.1,<4",
        "qrcode>=7.4,<9",
        "Pillow>=10,<13",
        "requests>=2.31,<3",
        "pyserial>=3.5,<4",
        "pyusb>=1.2,<2",
        "openpyxl>=3.1,<4",
        "lxml>=5,<7",  # BHYT claims XML validated against its XSD
        "sortedcontainers>=2.4,<3",
    ],
    extras_require={
        "postgres": ["psycopg[binary]>=3.1,<4"],
        "redis": ["redis>=5,<7"],
        "tts": ["pyttsx3>=2.90,<3", "gTTS>=2.5,<3", "pygame>=2.5,<3"],
        "dev": [
            "pytest>=8,<10",
            "pytest-timeout>=2.3,<3",
            "hypothesis>=6.100,<7",
            "websocket-client>=1.7,<2",
            "playwright>=1.44,<2",
            "ruff>=0.5",
            "aiosmtpd>=1.4,<2",
            "zxing-cpp>=2.2,<4",
            "aiohttp>=3.9,<4",  # the benchmarks' Socket.IO boards (python-socketio's asyncio client)
            "openapi-spec-validator>=0.7,<0.8",  # the OpenAPI document is validated in a test
            "schemathesis>=4,<5",  # tests/test_schemathesis.py: no generated input makes a 5xx
            "time-machine>=2.16,<4",  # tests/shifted_clock: run the tests on another day (README)
        ],
    },
    entry_points={"console_scripts": ["clinicq=hub.entry:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Flask",
        "Natural Language :: Vietnamese",
    ],
)
