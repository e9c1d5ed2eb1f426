; Inno Setup script: a Windows installer from the PyInstaller one-folder build.
; Build the bundle first (from the repository root, in PowerShell):
;   py -3.11 -m venv build\venv
;   build\venv\Scripts\pip install . "pyinstaller>=6.10,<7"
;   build\venv\Scripts\pyinstaller --noconfirm --distpath build\dist --workpath build\work packaging\desktop-nn.spec
; then compile this script (Inno Setup 6):
;   iscc packaging\windows\desktop-nn.iss      -> build\installer\desktop-nn-setup-0.1.0.exe

#define AppName "desktop-nn"
#define AppVersion "0.1.0"
#define Bundle "..\..\build\dist\desktop-nn"

[Setup]
AppId={{6E0C2A47-3D5B-4C1E-9B7A-1D2E3F405162}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=desktop-nn developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir=..\..\build\installer
OutputBaseFilename=desktop-nn-setup-{#AppVersion}
SetupIconFile=..\..\build\work\desktop-nn.ico
UninstallDisplayIcon={app}\desktop-nn.exe
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\desktop-nn.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\desktop-nn.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\desktop-nn.exe"; Description: "Start desktop-nn"; Flags: nowait postinstall skipifsilent
